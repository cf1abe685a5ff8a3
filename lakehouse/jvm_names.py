"""The Java names PySpark looks up through py4j, each resolved once per process instead of at every call.

PySpark reaches the JVM by name: every column function is ``jvm.<functions class>.<name>`` and every list
of columns goes through ``jvm.PythonUtils``. py4j resolves such a name anew at each use, in a round trip
in which the JVM tries it against each imported package (a miss searches every jar on Spark's class
path) and tries a member as a field before it finds the method. A name of a class, a package or a
static method means the same thing for the life of a JVM, so the view keeps what it resolved; a static
field is a value and is asked for each time. What it saves: docs/performance.md.
"""

from __future__ import annotations

from typing import Any

from py4j.java_gateway import JavaClass, JavaMember, JavaPackage, JVMView


def _kept(owner: Any, name: str, found: Any) -> Any:
    """``found`` kept on ``owner`` under ``name`` (so that the next lookup never reaches __getattr__), when it
    is a class, a package or a static method."""
    if type(found) is JavaClass:
        found.__class__ = _Class
    elif type(found) is JavaPackage:
        found.__class__ = _Package
    elif type(found) is not JavaMember:
        return found
    owner.__dict__[name] = found
    return found


class _View(JVMView):
    def __getattr__(self, name: str) -> Any:
        return _kept(self, name, JVMView.__getattr__(self, name))


class _Package(JavaPackage):
    def __getattr__(self, name: str) -> Any:
        return _kept(self, name, JavaPackage.__getattr__(self, name))


class _Class(JavaClass):
    def __getattr__(self, name: str) -> Any:
        return _kept(self, name, JavaClass.__getattr__(self, name))


def remember(view: JVMView) -> None:
    """Make ``view`` (a SparkContext's ``_jvm``) keep the names it resolves; idempotent."""
    if type(view) is JVMView:
        view.__class__ = _View
