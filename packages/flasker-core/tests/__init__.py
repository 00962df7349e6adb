"""flasker-core tests (a package so that test modules can share `_project_helpers`)."""
