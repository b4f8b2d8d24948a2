"""Socket resolution follows the daemon's order exactly."""

import os

from skyutil import resolve_socket_path


def test_explicit_path_wins():
    env = {'SKYUTILD_SOCKET': '/a.sock', 'XDG_RUNTIME_DIR': '/run/user/5'}
    assert resolve_socket_path('/x.sock', env, euid=5) == '/x.sock'


def test_environment_variable_next():
    env = {'SKYUTILD_SOCKET': '/a.sock', 'XDG_RUNTIME_DIR': '/run/user/5'}
    assert resolve_socket_path(None, env, euid=5) == '/a.sock'


def test_xdg_runtime_dir_next():
    assert resolve_socket_path(None, {'XDG_RUNTIME_DIR': '/run/user/5'},
                               euid=5) == '/run/user/5/skyutild/skyutild.sock'


def test_root_without_runtime_dir():
    assert resolve_socket_path(None, {}, euid=0) == \
        '/run/skyutild/skyutild.sock'


def test_user_without_runtime_dir():
    assert resolve_socket_path(None, {}, euid=1234) == \
        '/tmp/skyutild-1234/skyutild.sock'


def test_empty_values_count_as_unset():
    env = {'SKYUTILD_SOCKET': '', 'XDG_RUNTIME_DIR': ''}
    assert resolve_socket_path('', env, euid=7) == '/tmp/skyutild-7/skyutild.sock'


def test_defaults_to_process_environment(monkeypatch):
    monkeypatch.setenv('SKYUTILD_SOCKET', '/from/env.sock')
    assert resolve_socket_path() == '/from/env.sock'
    monkeypatch.delenv('SKYUTILD_SOCKET')
    monkeypatch.delenv('XDG_RUNTIME_DIR', raising=False)
    expected = ('/run/skyutild/skyutild.sock' if os.geteuid() == 0 else
                f'/tmp/skyutild-{os.geteuid()}/skyutild.sock')
    assert resolve_socket_path() == expected


def test_relative_runtime_dir_is_ignored():
    # proto/path.c skips a relative XDG_RUNTIME_DIR (invalid per the XDG
    # base directory spec); the client must land on the same socket.
    for rel in ('run/user/5', './run', 'skyutil', '~/run'):
        assert resolve_socket_path(None, {'XDG_RUNTIME_DIR': rel},
                                   euid=5) == '/tmp/skyutild-5/skyutild.sock'
        assert resolve_socket_path(None, {'XDG_RUNTIME_DIR': rel},
                                   euid=0) == '/run/skyutild/skyutild.sock'


def test_relative_runtime_dir_does_not_hide_socket_variable():
    env = {'SKYUTILD_SOCKET': 'rel.sock', 'XDG_RUNTIME_DIR': 'run/user/5'}
    # explicit and $SKYUTILD_SOCKET paths are taken as given, relative too
    assert resolve_socket_path(None, env, euid=5) == 'rel.sock'
    assert resolve_socket_path('x.sock', env, euid=5) == 'x.sock'


def test_runtime_dir_joined_like_the_daemon():
    # "%s/skyutild/skyutild.sock" in C: a trailing slash is kept, not
    # normalised away, so both sides print and use the same string.
    assert resolve_socket_path(None, {'XDG_RUNTIME_DIR': '/run/user/5/'},
                               euid=5) == '/run/user/5//skyutild/skyutild.sock'
    assert resolve_socket_path(None, {'XDG_RUNTIME_DIR': '/'},
                               euid=5) == '//skyutild/skyutild.sock'
