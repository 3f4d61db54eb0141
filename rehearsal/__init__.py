"""Rehearsal of the real GitHub workflows offline: a local forge, action stand-ins, a harness around act."""
