"""make run's entry point: conf parsing errors are the user's, said plainly."""

from __future__ import annotations

import pytest

from instance_benchmarks import cli


@pytest.mark.parametrize(("conf", "message"), [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_bad_conf_is_refused_before_anything_runs(conf, message, capsys):
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["run", "--conf", conf])

    assert excinfo.value.code == 2
    assert message in capsys.readouterr().err
