// check-polkit-rules.js: runs the example polkit rules against a stand-in of polkit's JavaScript API and checks whom they grant what.
// Usage: node check-polkit-rules.js RULES_FILE
"use strict";
const fs = require("fs");

const rules = [];
const polkit = {
        Result: { YES: "yes", NO: "no", AUTH_ADMIN: "auth_admin", NOT_HANDLED: null },
        addRule(rule) { rules.push(rule); },
        addAdminRule() {},
        log() {},
};

// polkitd evaluates each rules file with only `polkit` in scope.
new Function("polkit", fs.readFileSync(process.argv[2], "utf8"))(polkit);

function decide(actionId, groups) {
        const action = { id: actionId, lookup() { return undefined; } };
        const subject = {
                user: "someone", groups, local: true, active: true,
                isInGroup(g) { return groups.includes(g); },
                isInNetGroup() { return false; },
        };
        for (const rule of rules) {
                const result = rule(action, subject);
                if (result !== undefined && result !== null)
                        return result;
        }
        return null;
}

const ours = ["org.pic.cell1.manage-links", "org.pic.cell1.manage-peers", "org.pic.cell1.configure"];
const cases = [];
for (const id of ours) {
        cases.push([id, ["picadmin"], "yes"]);
        cases.push([id, ["users", "picadmin"], "yes"]);
        cases.push([id, ["users"], null]);
        cases.push([id, [], null]);
}
cases.push(["org.freedesktop.login1.reboot", ["picadmin"], null]);
cases.push(["org.pic.cell1.manage-links-extra", ["picadmin"], null]);

let failed = 0;
if (rules.length === 0) {
        console.log("FAIL: the file adds no rule");
        failed = 1;
}
for (const [id, groups, expected] of cases) {
        const got = decide(id, groups);
        if (got !== expected) {
                console.log(`FAIL: ${id} for groups [${groups}] gave ${got}, expected ${expected}`);
                failed = 1;
        }
}
process.exit(failed);
