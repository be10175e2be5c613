#!/usr/bin/env python3
# dbus-reference.py: builds the DocBook reference of the D-Bus API from dbus/org.pic.Cell1.xml with gdbus-codegen.
"""Usage: dbus-reference.py GDBUS_CODEGEN INTERFACE_XML OUTPUT_XML

gdbus-codegen writes one DocBook refentry per interface; they are gathered
into one <reference>, introduced by the overview comment that precedes
<node> in the interface file, so that the installed reference is one
document whatever the number of interfaces.
"""

import os
import re
import subprocess
import sys
import tempfile
import xml.dom.minidom
import xml.etree.ElementTree as ElementTree
from xml.sax.saxutils import escape

DOCBOOK_PUBLIC_ID = "-//OASIS//DTD DocBook XML V4.1.2//EN"
DOCBOOK_SYSTEM_ID = "http://www.oasis-open.org/docbook/xml/4.1.2/docbookx.dtd"
COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)


def fail(message):
    print(f"dbus-reference.py: {message}", file=sys.stderr)
    sys.exit(1)


def as_docbook_text(source):
    # The doc comments are plain text written for people reading the XML
    # ("/org/pic/Cell1/link/<name>"), while gdbus-codegen copies them into
    # DocBook as markup; escaping them keeps their meaning and the output
    # well-formed. gdbus-codegen's own shorthands (@arg, %CONST, name())
    # use no character that needs escaping.
    return COMMENT.sub(lambda m: "<!--" + escape(m.group(1)) + "-->", source)


def overview_paragraphs(source):
    """The paragraphs of the last comment before <node>: the API's overview."""
    head = source.split("<node", 1)[0]
    comments = COMMENT.findall(head)
    if not comments:
        return []
    text = comments[-1]
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return [" ".join(p.split()) for p in paragraphs if p.strip()]


def main(argv):
    if len(argv) != 4:
        fail("usage: dbus-reference.py GDBUS_CODEGEN INTERFACE_XML OUTPUT_XML")
    codegen, source_path, output_path = argv[1:]

    with open(source_path, encoding="utf-8") as f:
        source = f.read()
    escaped = as_docbook_text(source)
    try:
        interfaces = [node.get("name") for node in
                      ElementTree.fromstring(escaped).iter("interface")]
    except ElementTree.ParseError as e:
        fail(f"{source_path} is not well-formed XML: {e}")
    if not interfaces:
        fail(f"{source_path} describes no interface")

    with tempfile.TemporaryDirectory() as tmp:
        input_path = os.path.join(tmp, os.path.basename(source_path))
        with open(input_path, "w", encoding="utf-8") as f:
            f.write(escaped)
        run = subprocess.run([codegen, "--generate-docbook", "api",
                              "--output-directory", tmp, input_path],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        if run.returncode != 0:
            fail(f"{codegen} failed:\n{run.stdout}")

        impl = xml.dom.minidom.getDOMImplementation()
        doctype = impl.createDocumentType("reference", DOCBOOK_PUBLIC_ID, DOCBOOK_SYSTEM_ID)
        doc = impl.createDocument(None, "reference", doctype)
        reference = doc.documentElement
        title = doc.createElement("title")
        title.appendChild(doc.createTextNode("PIC Cell D-Bus API"))
        reference.appendChild(title)

        paragraphs = overview_paragraphs(source)
        if paragraphs:
            intro = doc.createElement("partintro")
            for text in paragraphs:
                para = doc.createElement("para")
                para.appendChild(doc.createTextNode(text))
                intro.appendChild(para)
            reference.appendChild(intro)

        for name in interfaces:
            path = os.path.join(tmp, f"api-{name}.xml")
            try:
                entry = xml.dom.minidom.parse(path).documentElement
            except FileNotFoundError:
                fail(f"{codegen} wrote no reference for the interface {name}")
            except Exception as e:  # expat reports syntax errors as ExpatError
                fail(f"{codegen} wrote a malformed reference for {name}: {e}")
            reference.appendChild(doc.importNode(entry, True))

    # One top-level element a line, for people who open the file as it is;
    # pretty-printing the refentries would change their <programlisting>s.
    text = "\n".join(['<?xml version="1.0" encoding="utf-8"?>',
                      doctype.toxml(),
                      '<reference id="pic-cell-dbus-api">']
                     + [child.toxml() for child in reference.childNodes]
                     + ["</reference>", ""])
    # The result must read back; a broken file is never installed.
    try:
        xml.dom.minidom.parseString(text.encode("utf-8"))
    except Exception as e:
        fail(f"the gathered reference is malformed: {e}")
    tmp_output = output_path + ".tmp"
    with open(tmp_output, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp_output, output_path)


if __name__ == "__main__":
    main(sys.argv)
