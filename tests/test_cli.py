import subprocess
import sys

from naslib_petridish.cli import main


def test_info_prints_summary(table_path, capsys):
    assert main(["-q", "info", "--nb101", table_path]) == 0
    out = capsys.readouterr().out
    assert "423,624 cells" in out and "val_acc" in out and "test_acc" in out


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["info", "--nb101", str(tmp_path / "nope.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err
    assert main(["convert", str(tmp_path / "a.pkl"), str(tmp_path / "b.txt")]) == 2
    assert "must end in .npz" in capsys.readouterr().err


def test_console_script_installed():
    r = subprocess.run([sys.executable, "-m", "naslib_petridish.cli", "--version"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "naslib-petridish" in r.stdout
