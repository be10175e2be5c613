#!/usr/bin/env python3
"""compare-introspection.py: checks that the running service's introspection of
one object matches dbus/org.pic.Cell1.xml for every org.pic.* interface the
object carries: the same methods, arguments (name, type, direction), signals
and properties (type, access, change signalling).

usage: compare-introspection.py API.xml LIVE.xml INTERFACE...
Every INTERFACE named must be present in the live introspection."""
import sys
import xml.etree.ElementTree as ET

EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"


def describe(interface):
    members = {}
    for method in interface.findall("method"):
        args = tuple((a.get("name"), a.get("type"), a.get("direction", "in"))
                     for a in method.findall("arg"))
        members["method " + method.get("name")] = args
    for signal in interface.findall("signal"):
        args = tuple((a.get("name"), a.get("type")) for a in signal.findall("arg"))
        members["signal " + signal.get("name")] = args
    for prop in interface.findall("property"):
        emits = "true"
        for ann in prop.findall("annotation"):
            if ann.get("name") == EMITS:
                emits = ann.get("value")
        members["property " + prop.get("name")] = (prop.get("type"), prop.get("access"), emits)
    return members


def interfaces(path):
    root = ET.parse(path).getroot()
    return {i.get("name"): describe(i) for i in root.findall("interface")}


def main():
    api, live, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    spec = interfaces(api)
    running = interfaces(live)
    problems = []
    for name in wanted:
        if name not in running:
            problems.append(f"interface {name} is not on the object")
    for name, members in running.items():
        if not name.startswith("org.pic."):
            continue
        if name not in spec:
            problems.append(f"interface {name} is served but not in the API file")
            continue
        want = spec[name]
        for key in sorted(set(want) | set(members)):
            if key not in members:
                problems.append(f"{name}: {key} is in the API file but not served")
            elif key not in want:
                problems.append(f"{name}: {key} is served but not in the API file")
            elif want[key] != members[key]:
                problems.append(f"{name}: {key} differs: file {want[key]}, served {members[key]}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
