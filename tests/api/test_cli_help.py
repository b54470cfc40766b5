"""groupvault's help and its man page list the same commands, and each
command the same options (both ways); the bash completion offers them all;
the three man pages pass `mandoc -Tlint`; groupvaultd(8) lists the routes
`groupvaultd --routes` prints and groupvault-agent(8) the settings
`groupvault-agent --help` prints; `make install` puts it all under a prefix."""
import os
import re
import subprocess
import tempfile

import cli_harness as ch
from harness import BINARY, ROOT, Skip

AGENT = os.path.join(os.path.dirname(BINARY), "groupvault-agent")

MACRO = re.compile(r"^[A-Z][a-z]{1,2}$")  # an mdoc macro word: Fl, Ar, Op, Oo...


def man_sections(path):
    """{section name: [lines]} of an mdoc page."""
    sections, cur = {}, None
    with open(path) as f:
        for line in f.read().splitlines():
            if line.startswith(".Sh "):
                cur = line[4:].strip()
                sections[cur] = []
            elif cur is not None:
                sections[cur].append(line)
    return sections


def man_commands():
    """{command name: set of its --options} from the COMMANDS list's .It Cm heads."""
    cmds = {}
    for line in man_sections(os.path.join(ch.MAN, "groupvault.1"))["COMMANDS"]:
        if not line.startswith(".It Cm "):
            continue
        words = line.split()[2:]
        name = []
        for w in words:
            if MACRO.match(w):
                break
            name.append(w)
        opts = {"--" + words[i + 1].lstrip("-") for i, w in enumerate(words[:-1])
                if w == "Fl"}
        cmds[" ".join(name)] = opts
    return cmds


def man_global_options():
    opts = set()
    for line in man_sections(os.path.join(ch.MAN, "groupvault.1"))["DESCRIPTION"]:
        m = re.match(r"^\.It Fl -(\S+)", line)
        if m:
            opts.add("--" + m.group(1))
    return opts


def help_section(text, title):
    """Lines of a help text's section (after 'title:' up to a blank line)."""
    lines = text.splitlines()
    start = lines.index(title + ":") + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out


def help_commands():
    text = ch.ok(["--help"]).decode()
    return [re.split(r"\s{2,}", line.strip())[0] for line in help_section(text, "commands")]


def help_options(text, title="options"):
    if title + ":" not in text.splitlines():
        return set()
    return {line.split()[0] for line in help_section(text, title)}


def test_help_and_man_list_the_same_commands():
    helped, man = help_commands(), man_commands()
    assert len(helped) == len(set(helped)) and len(helped) >= 20, helped
    assert set(helped) - set(man) == set(), "in --help, not in groupvault.1: %s" % (
        set(helped) - set(man))
    assert set(man) - set(helped) == set(), "in groupvault.1, not in --help: %s" % (
        set(man) - set(helped))


def test_each_command_help_matches_its_man_entry():
    man = man_commands()
    for name in help_commands():
        text = ch.ok(name.split() + ["--help"]).decode()
        assert text.startswith("usage: groupvault %s" % name), (name, text)
        assert ch.ok(["help"] + name.split()).decode() == text, name
        opts = help_options(text)
        assert opts == man[name], "%s: --help has %s, groupvault.1 has %s" % (
            name, sorted(opts), sorted(man[name]))
        # The usage line names every option too.
        usage = text.splitlines()[0]
        assert {o for o in re.findall(r"--[a-z-]+", usage)} == opts, (name, usage)


def test_global_options_match():
    text = ch.ok(["--help"]).decode()
    assert help_options(text, "global options") == man_global_options()


def test_bash_completion_offers_every_command_and_option():
    script = ch.ok(["--completion", "bash"]).decode()
    r = subprocess.run(["bash", "-n"], input=script.encode(), capture_output=True)
    assert r.returncode == 0, r.stderr
    man = man_commands()

    def complete(*words):
        prog = script + "\nCOMP_WORDS=(groupvault %s)\nCOMP_CWORD=%d\n_groupvault\n" \
            "printf '%%s\\n' \"${COMPREPLY[@]}\"\n" % (
                " ".join("'%s'" % w for w in words), len(words))
        out = subprocess.run(["bash", "-c", prog], capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return set(out.stdout.decode().split())

    top = complete("")
    for name, opts in man.items():
        words = name.split()
        assert words[0] in top, (name, top)
        if len(words) == 2:
            assert words[1] in complete(words[0], ""), name
        offered = complete(*(words + ["--"]))
        assert opts <= offered, (name, opts - offered)
        assert "--json" in offered and "--addr" in offered, (name, offered)
    # A value-taking option's value is not taken for a command word.
    assert complete("--addr", "http://x", "tok") == {"token"}


def test_man_pages_pass_mandoc_lint():
    pages = [os.path.join(ch.MAN, p) for p in ("groupvault.1", "groupvaultd.8",
                                               "groupvault-agent.8")]
    r = subprocess.run(["mandoc", "-Tlint", "-Wwarning"] + pages, capture_output=True)
    assert r.returncode == 0 and not r.stdout and not r.stderr, r
    # Style level too, but for cross-references to our own pages (not
    # installed here) and the system's man index.
    r = subprocess.run(["mandoc", "-Tlint"] + pages, capture_output=True)
    ours = ("Xr groupvault 1", "Xr groupvaultd 8", "Xr groupvault-agent 8")
    for line in (r.stdout + r.stderr).decode().splitlines():
        if "mandoc.db" in line or any(x in line for x in ours):
            continue
        raise AssertionError("mandoc -Tlint: " + line)


def test_daemon_man_page_lists_every_route():
    routes = subprocess.run([BINARY, "--routes"], capture_output=True, check=True,
                            env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    want = {tuple(line.split()[:2]) for line in routes.stdout.decode().splitlines()}
    man = set()
    for line in man_sections(os.path.join(ch.MAN, "groupvaultd.8"))["API"]:
        m = re.match(r"^\.It Li (\S+) Ta Pa (\S+) Ta", line)
        if m:
            man.add(m.groups())
    assert want == man, "groupvaultd --routes vs groupvaultd.8: only routes %s, only man %s" % (
        sorted(want - man), sorted(man - want))


def _env_names(section_lines):
    return {m.group(1) for m in (re.match(r"^\.It Ev (\S+)", line) for line in section_lines)
            if m}


def test_daemon_and_agent_settings_match_their_help():
    daemon = subprocess.run([BINARY, "--help"], capture_output=True, check=True,
                            env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0")).stdout.decode()
    want = set(re.findall(r"^  ([A-Z][A-Z_]+[A-Z])\s", daemon, re.M))
    man = _env_names(man_sections(os.path.join(ch.MAN, "groupvaultd.8"))["ENVIRONMENT"])
    assert want == man, "groupvaultd --help vs groupvaultd.8: %s / %s" % (
        sorted(want - man), sorted(man - want))
    if not os.path.exists(AGENT):
        raise Skip("no " + AGENT)
    agent = subprocess.run([AGENT, "--help"], capture_output=True, check=True,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0")).stdout.decode()
    want = set(re.findall(r"^  ([A-Z][A-Z_]*[A-Z_])(?:<NAME>)?\s", agent, re.M))
    man = _env_names(man_sections(os.path.join(ch.MAN, "groupvault-agent.8"))["ENVIRONMENT"])
    assert want == man, "groupvault-agent --help vs groupvault-agent.8: %s / %s" % (
        sorted(want - man), sorted(man - want))


def test_make_install_under_a_prefix():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    with tempfile.TemporaryDirectory(prefix="gv-install-") as dest:
        r = subprocess.run(["make", "-s", "install", "PREFIX=/opt/gv", "DESTDIR=" + dest],
                           cwd=ROOT, capture_output=True, env=env, timeout=900)
        assert r.returncode == 0, r
        root = os.path.join(dest, "opt", "gv")
        bins = ["groupvaultd", "groupvault"]
        if os.path.exists(os.path.join(ROOT, "src", "agent", "main.c")):
            bins.append("groupvault-agent")
        assert sorted(os.listdir(os.path.join(root, "bin"))) == sorted(bins)
        for b in bins:
            assert os.access(os.path.join(root, "bin", b), os.X_OK), b
        man = os.path.join(root, "share", "man")
        assert os.listdir(os.path.join(man, "man1")) == ["groupvault.1"]
        assert sorted(os.listdir(os.path.join(man, "man8"))) == ["groupvault-agent.8",
                                                                 "groupvaultd.8"]
        comp = os.path.join(root, "share", "bash-completion", "completions", "groupvault")
        with open(comp) as f:
            assert "complete -F _groupvault groupvault" in f.read()
        out = subprocess.run([os.path.join(root, "bin", "groupvault"), "--help"],
                             capture_output=True, timeout=30)
        assert out.returncode == 0 and b"token issue" in out.stdout, out
