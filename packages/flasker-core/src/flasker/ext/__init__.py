"""flasker 0.1's extension import paths: `flasker.ext.api`, `flasker.ext.auth`.

They re-export the optional packages flasker-api and flasker-auth, and say which to install when
one is missing.
"""
