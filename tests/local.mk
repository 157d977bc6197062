# tests/: integration tests of the real programs (unit tests sit with their modules' local.mk)
