"""Houses and cats: flasker 0.1's example models, with a few tasks and a page to run them."""
