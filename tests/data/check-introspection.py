#!/usr/bin/env python3
# check-introspection.py: checks that the API's introspection XML is complete enough to be compared with a running service: named, typed, directed args and valid names and signatures.
import re
import sys
import xml.etree.ElementTree as ET

EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BASIC = "ybnqiuxtdsogh"
problems = []


def complete_type(sig, i):
    """Index just past the single complete type starting at sig[i], or -1."""
    if i >= len(sig):
        return -1
    c = sig[i]
    if c in BASIC or c == "v":
        return i + 1
    if c == "a":
        if sig.startswith("{", i + 1):
            if i + 2 >= len(sig) or sig[i + 2] not in BASIC:
                return -1
            j = complete_type(sig, i + 3)
            return j + 1 if j != -1 and sig.startswith("}", j) else -1
        return complete_type(sig, i + 1)
    if c == "(":
        j = i + 1
        while j < len(sig) and sig[j] != ")":
            j = complete_type(sig, j)
            if j == -1:
                return -1
        return j + 1 if j > i + 1 and j < len(sig) else -1
    return -1


def single_type(sig):
    return bool(sig) and complete_type(sig, 0) == len(sig)


def check_interface(iface):
    iname = iface.get("name", "")
    if not all(NAME.match(part) for part in iname.split(".")) or "." not in iname:
        problems.append(f"interface name {iname!r} is not a valid D-Bus interface name")
    seen = set()
    for member in iface:
        kind, mname = member.tag, member.get("name", "")
        if kind == "annotation":
            continue
        where = f"{iname}.{mname}"
        if kind not in ("method", "property", "signal"):
            problems.append(f"{iname}: unexpected element <{kind}>")
            continue
        if not NAME.match(mname):
            problems.append(f"{where}: {mname!r} is not a valid member name")
        if mname in seen:
            problems.append(f"{where} is declared twice")
        seen.add(mname)
        if kind == "property":
            if not single_type(member.get("type", "")):
                problems.append(f"{where}: type {member.get('type')!r} is not a single complete type")
            if member.get("access") != "read":
                problems.append(f"{where}: access is {member.get('access')!r}, every property is read-only")
            emits = [a.get("value") for a in member.findall("annotation") if a.get("name") == EMITS]
            if emits not in (["true"], ["const"], ["invalidates"], ["false"]):
                problems.append(f"{where}: needs exactly one {EMITS} annotation, has {emits}")
            continue
        args = set()
        for arg in member.findall("arg"):
            aname, atype = arg.get("name"), arg.get("type", "")
            direction = arg.get("direction", "in" if kind == "method" else "out")
            if not aname or not NAME.match(aname):
                problems.append(f"{where}: an argument has no valid name ({aname!r})")
            elif aname in args:
                problems.append(f"{where}: argument {aname!r} is declared twice")
            args.add(aname)
            if not single_type(atype):
                problems.append(f"{where}({aname}): type {atype!r} is not a single complete type")
            if kind == "method" and arg.get("direction") not in ("in", "out"):
                problems.append(f"{where}({aname}): direction must be given as \"in\" or \"out\"")
            if kind == "signal" and direction != "out":
                problems.append(f"{where}({aname}): signal arguments have no direction but out")


def main():
    root = ET.parse(sys.argv[1]).getroot()
    if root.tag != "node":
        problems.append(f"the root element is <{root.tag}>, not <node>")
    interfaces = root.findall("interface")
    if not interfaces:
        problems.append("no interface is declared")
    names = [i.get("name") for i in interfaces]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"interface {name} is declared twice")
    for iface in interfaces:
        check_interface(iface)
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
