"""The app package: default.cfg's MODULES imports models, tasks and views from here, in order."""
