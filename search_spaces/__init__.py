"""Search spaces for the studies: each module returns a Ray Tune param space.

A space maps TrainConfig fields to Tune domains; a key whose grid values are
dicts is a bundle of fields set together (a loss with the optimizer its paper
uses, a D:G ratio as d_steps and g_steps). Spaces only declare values; the
`studies` layer validates them against TrainConfig before Ray starts.
"""
