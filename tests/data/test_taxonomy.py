"""GM program → stem class mapping."""

from __future__ import annotations

import pytest

from deconstruct.data.rendering import taxonomy
from deconstruct.errors import InputError

FOUR = taxonomy.STEM_SETS["4stems"]
SIX = taxonomy.STEM_SETS["6stems"]


def test_coarse_classes_follow_general_midi():
    assert all(taxonomy.coarse_class(p) == "bass" for p in range(32, 40))  # GM 33-40
    assert all(taxonomy.coarse_class(p) == "vocals" for p in (52, 53, 54))  # choir aahs, voice oohs, synth voice
    assert taxonomy.coarse_class(0, is_drum=True) == "drums"
    assert taxonomy.coarse_class(117) == "other"  # melodic tom patch, not the drum channel
    assert {taxonomy.coarse_class(p) for p in range(128)} == {"bass", "vocals", "other"}


def test_fine_classes():
    assert taxonomy.fine_class(0) == "piano" and taxonomy.fine_class(25) == "guitar"
    assert taxonomy.fine_class(48) == "strings" and taxonomy.fine_class(61) == "brass"
    assert taxonomy.fine_class(73) == "winds" and taxonomy.fine_class(88) == "synth"


@pytest.mark.parametrize("program, is_drum, four, six", [
    (0, False, "other", "piano"), (27, False, "other", "guitar"), (33, False, "bass", "bass"),
    (52, False, "vocals", "vocals"), (40, False, "other", "other"), (25, True, "drums", "drums"),
])
def test_stem_for_picks_the_most_specific_stem(program, is_drum, four, six):
    assert taxonomy.stem_for(program, is_drum, FOUR) == four
    assert taxonomy.stem_for(program, is_drum, SIX) == six


def test_sets_without_other_drop_what_they_cannot_hold():
    assert taxonomy.stem_for(40, False, ("vocals", "drums")) is None


def test_programs_of_leave_out_sound_effects():
    assert taxonomy.programs_of("bass") == tuple(range(32, 40))
    assert 127 not in taxonomy.programs_of("fx") and 121 not in taxonomy.programs_of("fx")
    assert taxonomy.programs_of("drums") == taxonomy.DRUM_KITS


def test_bad_names_and_programs_are_refused():
    with pytest.raises(InputError, match="unknown stem"):
        taxonomy.validate_stems(("vocals", "kazoo"))
    with pytest.raises(InputError, match="repeat"):
        taxonomy.validate_stems(("bass", "bass"))
    with pytest.raises(InputError):
        taxonomy.fine_class(128)
    with pytest.raises(InputError, match="unknown instrument class"):
        taxonomy.programs_of("kazoo")
