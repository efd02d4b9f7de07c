"""Several units claiming one hit. Claims that plausibly show the same target (a compatible
target type, and matching footage or the same place and time) form one dispute per target.
The target is worth one award however many claim it: points already paid to any member count
inside it, and a senior shares only what is left (or reverses a payment, with a reason). A
dispute whose other claims are all rejected settles itself.

`detection` forms disputes as claims enter the queue, `settlement` pays and settles them,
`reading` says how one stands now, and `status` owns the dispute's status (its one table of
moves). Signals are stored as data ({"kind": "same_footage", "share": 1.0, "min_distance": 4});
the pages put them in words, in the reader's language."""
