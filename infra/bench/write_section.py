"""Replaces (or appends) one `## <name>` section of BENCHMARKS.md with stdin."""
import re
import sys

name = sys.argv[1]
section = sys.stdin.read().rstrip() + "\n"
try:
    text = open("BENCHMARKS.md").read()
except FileNotFoundError:
    text = ""
text = text or "# Benchmarks\n\nEach section is written by the script it names; rerun it to refresh.\n"
pattern = re.compile(rf"^## {re.escape(name)}\b.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(text):
    text = pattern.sub(lambda _: section + "\n", text)
else:
    text = text.rstrip() + "\n\n" + section
open("BENCHMARKS.md", "w").write(text.rstrip() + "\n")
