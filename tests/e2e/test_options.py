"""One option parser for every command (the real binary): --opt=value and
--opt value, no duplicates, no value taken from the next option, strict
numbers, one error line, exit 2 and nothing written."""
import pytest

from conftest import run

FAST = ["--m", "8", "--d", "4", "--n", "8", "--steps", "5", "--eval_count", "1", "--eval_steps", "2", "-q"]

JOB = """\
name: opts
fixed: {d: 4, n: 8, steps: 5, eval_count: 1, eval_steps: 2, H: 1}
grid:
  m: [4, 8]
"""


@pytest.fixture
def job(tmp_path):
    path = tmp_path / "opts.yaml"
    path.write_text(JOB)
    return path


def refused(advsweep, args, names, cwd):
    """The command exits 2 with one line naming each of `names`, and writes nothing."""
    before = sorted(p.name for p in cwd.iterdir())
    proc = run([advsweep, *args], check=2, cwd=cwd)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("advsweep: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert proc.stdout == ""
    assert sorted(p.name for p in cwd.iterdir()) == before
    return lines[0]


def test_equals_and_space_forms_are_the_same(advsweep, tmp_path):
    a = run([advsweep, "train", *FAST, "--attack=fgsm", "--delta", "0.2"], check=0).stdout
    b = run([advsweep, "train", *FAST, "--attack", "fgsm", "--delta=0.2"], check=0).stdout
    strip = lambda s: s.split(";")[0]  # the results, not the timing
    assert strip(a) == strip(b) and "attack=fgsm" in a
    # the dashed spelling of a parameter is the same parameter
    c = run([advsweep, "train", *FAST, "--attack", "fgsm", "--delta=0.2", "--pgd-steps", "3"], check=0).stdout
    assert strip(c) == strip(a)


@pytest.mark.parametrize("command", [
    ["run", "--grace=30", "--time-limit=1:00", "--rate=4", "--shard=0/1", "--print-default"],
    ["run", "--grace", "30", "--time-limit", "1:00", "--rate", "4", "--shard", "0/1", "--print-default"],
    ["plan", "--rate=4", "--ranks=3", "--cpus-per-task=2", "--mem-per-rank=100", "--max-time=1:00:00", "--print-default"],
    ["plan", "--rate", "4", "--ranks", "3", "--cpus-per-task", "2", "--mem-per-rank", "100", "--print-default"],
])
def test_every_value_option_takes_both_forms(advsweep, command):
    assert run([advsweep, *command], check=0).stdout.startswith("# The embedded default sweep")


def test_run_accepts_grace_with_equals(advsweep, job, tmp_path):
    out = tmp_path / "o.h5"
    proc = run([advsweep, "run", str(job), f"--output={out}", "--grace=30", "-q"], check=0)
    assert out.exists(), proc.stderr
    proc = run([advsweep, "plan", str(job), "--rate=2", "--ranks=2"], check=0)
    assert "points       2" in proc.stdout


@pytest.mark.parametrize("args,names", [
    (["train", "--m", "16", "--m=8"], ["--m", "more than once"]),
    (["train", "--pgd-steps", "3", "--pgd_steps", "4"], ["pgd_steps", "more than once"]),
    (["train", "-q", "--quiet"], ["-q", "--quiet"]),
    (["run", "--grace=30", "--grace", "10"], ["--grace", "more than once"]),
    (["run", "--fresh", "--fresh"], ["--fresh"]),
    (["plan", "--rate", "2", "--rate=3"], ["--rate"]),
    (["merge", "-o", "a.h5", "--output", "b.h5", "c.h5"], ["-o", "--output"]),
    (["bench", "--H", "1", "--H", "2"], ["--H"]),
    (["--version", "--version"], ["--version"]),
])
def test_duplicate_options_refused(advsweep, tmp_path, args, names):
    refused(advsweep, args, names, tmp_path)


@pytest.mark.parametrize("args,names", [
    (["train", "--data", "file", "--data_file", "-o", "x.h5"], ["--data_file", "'-o'"]),
    (["train", "-o", "--m", "8"], ["-o", "'--m'"]),
    (["run", "--grace", "-q"], ["--grace", "'-q'"]),
    (["run", "--output", "--fresh"], ["--output", "'--fresh'"]),
    (["plan", "--rate", "--sbatch"], ["--rate", "'--sbatch'"]),
    (["train", "--m"], ["--m", "needs a value"]),
    (["status", "--where"], ["option --where needs an expression"]),
    (["run", "--where", "-q"], ["option --where needs an expression, found the option '-q'"]),
    (["bench", "--precision"], ["option --precision needs a precision (f64 or f32)"]),
    (["run", "--grace"], ["--grace", "needs"]),
    (["merge", "x.h5", "-o"], ["-o", "needs"]),
])
def test_missing_value_not_taken_from_next_option(advsweep, tmp_path, args, names):
    refused(advsweep, args, names, tmp_path)


def test_value_starting_with_dash_given_explicitly(advsweep, tmp_path):
    # --data_file=-o is a value, so the data file '-o' is looked for (and is missing)
    msg = refused(advsweep, ["train", *FAST, "--data", "file", "--data_file=-o"], ["-o"], tmp_path)
    assert "needs a value" not in msg
    # a negative number is a value, refused by the range check naming the parameter
    refused(advsweep, ["train", "--m", "-3"], ["parameter m", "'-3'"], tmp_path)


@pytest.mark.parametrize("args,names", [
    (["train", "--m", " 8"], ["parameter m", "' 8'"]),
    (["train", "--m", "8 "], ["parameter m", "'8 '"]),
    (["train", "--m", "0x40"], ["parameter m", "'0x40'"]),
    (["train", "--m", "8x"], ["parameter m", "'8x'"]),
    (["train", "--m", "1e3"], ["parameter m", "'1e3'"]),
    (["train", "--m", "16.0"], ["parameter m", "'16.0'"]),
    (["train", "--m="], ["parameter m", "''"]),
    (["train", "--m", ""], ["parameter m", "''"]),
    (["train", "--delta", "0x0.1p1"], ["parameter delta", "'0x0.1p1'"]),
    (["train", "--delta", " 0.1"], ["parameter delta", "' 0.1'"]),
    (["train", "--delta", "0.1e"], ["parameter delta", "'0.1e'"]),
    (["train", "--epsilon", "nan"], ["parameter epsilon", "'nan'"]),
    (["train", "--attack", " pgd"], ["parameter attack", "' pgd'"]),
    (["run", "--grace", "0x10"], ["--grace", "'0x10'"]),
    (["run", "--grace", " 5"], ["--grace", "' 5'"]),
    (["run", "--grace="], ["--grace", "''"]),
    (["run", "--rate", "1e"], ["--rate", "'1e'"]),
    (["run", "--time-limit", " 60"], ["--time-limit", "' 60'"]),
    (["run", "--time-limit", "1:5x"], ["--time-limit", "'1:5x'"]),
    (["run", "--shard", "0/2 "], ["--shard", "'0/2 '"]),
    (["run", "--shard", "+0/2"], ["--shard", "'+0/2'"]),
    (["plan", "--ranks", "1e3"], ["--ranks", "'1e3'"]),
    (["plan", "--ranks", "0x4"], ["--ranks", "'0x4'"]),
    (["plan", "--cpus-per-task", "2.0"], ["--cpus-per-task", "'2.0'"]),
    (["plan", "--max-time", "1:00:0x"], ["--max-time", "'1:00:0x'"]),
    (["bench", "--m", "16, 32"], ["--m", "'16, 32'"]),
    (["bench", "--repeats", "3x"], ["--repeats", "'3x'"]),
    # plain decimal: no '+' sign, no leading zeros in an integer
    (["train", "--m=+8"], ["parameter m", "'+8'", "no '+' sign"]),
    (["train", "--m=08"], ["parameter m", "'08'", "no leading zeros"]),
    (["train", "--delta", "+0.1"], ["parameter delta", "'+0.1'", "no '+' sign"]),
    (["run", "--grace", "+5"], ["--grace", "'+5'"]),
    (["plan", "--ranks", "04"], ["--ranks", "'04'"]),
    (["plan", "--ranks", "+4"], ["--ranks", "'+4'"]),
    (["bench", "--repeats", "03"], ["--repeats", "'03'"]),
    (["run", "--where", "m=+8"], ["parameter m", "'+8'"]),
])
def test_numbers_parsed_strictly(advsweep, tmp_path, args, names):
    refused(advsweep, args, names, tmp_path)


def test_strict_numbers_in_job_files(advsweep, tmp_path):
    for bad, shown in (("m: [4, 0x8]", "0x8"), ("m: [4, 1e3]", "1e3"), ("m: [4, '8 ']", "8 "), ("m: [4, +8]", "+8"),
                       ("m: [4, 08]", "08")):
        path = tmp_path / "bad.yaml"
        path.write_text(JOB.replace("m: [4, 8]", bad))
        msg = refused(advsweep, ["plan", str(path)], ["bad.yaml", "parameter m", f"'{shown}'"], tmp_path)
        assert "bad.yaml:4:" in msg  # the line of the value


@pytest.mark.parametrize("args,names", [
    (["run", "--gra=30"], ["--gra", "--grace"]),
    (["run", "--print"], ["--print"]),
    (["train", "--pgd_ste", "3"], ["--pgd_ste"]),
    (["run", "--fresh=yes"], ["--fresh", "takes no value"]),
    (["run", "--frobnicate"], ["--frobnicate", "run --help"]),
    (["status", "-x", "f.h5"], ["-x"]),
    (["--frobnicate"], ["--frobnicate"]),
    (["--help", "train"], ["--help"]),
    (["train", "extra"], ["'extra'"]),
    (["run", "a.yaml", "b.yaml"], ["a.yaml", "b.yaml"]),
])
def test_unknown_abbreviated_or_misplaced(advsweep, tmp_path, args, names):
    refused(advsweep, args, names, tmp_path)


def test_double_dash_ends_options(advsweep, tmp_path):
    proc = run([advsweep, "status", "--", "-weird.h5"], check=2, cwd=tmp_path)
    assert "-weird.h5" in proc.stderr and "unknown option" not in proc.stderr


def test_help_of_every_command(advsweep):
    for cmd in ("train", "run", "plan", "status", "stop", "merge", "bench"):
        for flag in ("-h", "--help"):
            proc = run([advsweep, cmd, flag], check=0)
            assert proc.stdout.startswith("usage: ") and proc.stderr == ""
    assert run([advsweep, "-h"], check=0).stdout.startswith("usage: advsweep COMMAND")
