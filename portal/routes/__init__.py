"""HTTP layer: one blueprint per audience. Views parse, call one service, render."""
