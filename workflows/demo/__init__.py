"""The demo school that `portfolio demo` builds (school.py): a use case above every school
process, since it runs them all."""

DEMO_CODE = "999301"
DEMO_NAME = "示範高中（新莊規定）"
