"""tests/support/shared.py itself: absent samples skip locally with the path looked in, fail under CI=true."""

import pytest

from tests.support import shared


@pytest.fixture
def no_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("RCM_SHARED_DIR", str(tmp_path / "absent"))
    return tmp_path / "absent"


@pytest.mark.parametrize("ci", ["", "false"])
def test_absent_sample_skips_locally_naming_the_path(no_samples, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=str(no_samples / "samples" / "hl7v2" / "x.hl7")):
        shared.sample_file("hl7v2", "x.hl7")


@pytest.mark.parametrize("ci", ["true", "1", "TRUE"])
def test_absent_sample_fails_under_ci_naming_the_path(no_samples, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=str(no_samples / "samples" / "hl7v2" / "x.hl7")):
        shared.sample_file("hl7v2", "x.hl7")
    with pytest.raises(pytest.fail.Exception, match=str(no_samples / "reference" / "carc.md")):
        shared.reference_file("carc.md")


def test_sample_params_stand_in_fails_on_first_use_under_ci(no_samples, monkeypatch):
    monkeypatch.setenv("CI", "true")
    [param] = shared.sample_params("hl7v2", pattern="*.hl7")
    assert param.id == "samples-missing"
    with pytest.raises(pytest.fail.Exception, match=str(no_samples / "samples" / "hl7v2")):
        param.values[0].read_text()


def test_corpus_files_are_optional_locally_but_required_under_ci(no_samples, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert shared.corpus_files("hl7v2", pattern="*.hl7") == []
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=str(no_samples / "samples" / "hl7v2")):
        shared.corpus_files("hl7v2", pattern="*.hl7")


def test_present_samples_are_found_sorted_without_the_index_files(tmp_path, monkeypatch):
    folder = tmp_path / "samples" / "hl7v2"
    folder.mkdir(parents=True)
    for name in ("b.hl7", "a.hl7", "README.md", "SOURCES.md"):
        (folder / name).write_text("x")
    monkeypatch.setenv("RCM_SHARED_DIR", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert [p.name for p in shared.sample_files("hl7v2")] == ["a.hl7", "b.hl7"]
    assert [p.id for p in shared.sample_params("hl7v2", pattern="*.hl7")] == ["a.hl7", "b.hl7"]
    assert shared.sample_file("hl7v2", "a.hl7") == folder / "a.hl7"
