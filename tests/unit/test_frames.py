from workers.ingest.frames import sample_times


def test_samples_spread_evenly_inside_the_clip() -> None:
    times = sample_times(10.0, 5)
    assert times == [1.0, 3.0, 5.0, 7.0, 9.0]
    assert all(0 < t < 10 for t in times)


def test_a_clip_without_duration_gets_its_first_frame() -> None:
    assert sample_times(0.0, 5) == [0.0]
