"""Farmland stewardship beyond illegal houses: the field-chief system (田长制) — grids, chiefs by level, patrols
and what they find — and abandoned cultivated land (抛荒), with its own workflow and audit chain."""
