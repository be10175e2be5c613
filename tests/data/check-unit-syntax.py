#!/usr/bin/env python3
# check-unit-syntax.py: a systemd-free syntax check of a unit file: every line is a comment, a known section or a key=value inside one.
import re
import sys

SECTIONS = {"Unit", "Service", "Install"}
INSTALL_KEYS = {"WantedBy", "RequiredBy", "UpheldBy", "Alias", "Also", "DefaultInstance"}
REQUIRED = {("Service", "ExecStart"), ("Service", "Type"), ("Unit", "Description")}
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*=")
PLACEHOLDER = re.compile(r"@[A-Za-z_]+@")


def main():
    problems, seen_sections, keys = [], set(), set()
    section = None
    with open(sys.argv[1], encoding="utf-8") as unit:
        for number, line in enumerate(unit, 1):
            line = line.rstrip("\n")
            where = f"line {number}: {line!r}"
            if not line.strip() or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                name = line.strip()[1:-1] if line.strip().endswith("]") else None
                if name not in SECTIONS:
                    problems.append(f"{where}: not one of the sections {sorted(SECTIONS)}")
                elif name in seen_sections:
                    problems.append(f"{where}: section [{name}] appears twice")
                section = name
                seen_sections.add(name)
                continue
            if line.endswith("\\"):
                problems.append(f"{where}: continuation lines are not used in this unit")
            if not KEY.match(line):
                problems.append(f"{where}: not a Key=value line")
                continue
            if section is None:
                problems.append(f"{where}: a key outside any section")
                continue
            key = line.split("=", 1)[0]
            if section == "Install" and key not in INSTALL_KEYS:
                problems.append(f"{where}: {key} does not belong in [Install]")
            if section != "Install" and key in INSTALL_KEYS:
                problems.append(f"{where}: {key} belongs in [Install]")
            keys.add((section, key))
            if PLACEHOLDER.search(line):
                problems.append(f"{where}: a placeholder was left unsubstituted")
    for section_key in sorted(REQUIRED - keys):
        problems.append(f"[{section_key[0]}] lacks {section_key[1]}=")
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
