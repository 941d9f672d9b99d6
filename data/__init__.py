"""Demo data: a seeded synthetic county and its generator."""

#: The township whose officer and inspector the demo creates, and whose cases the demo's imagery story follows.
DEMO_TOWNSHIP = "431021101000"
