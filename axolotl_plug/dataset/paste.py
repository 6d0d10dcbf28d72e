"""When a jinja template only pastes its text inputs into fixed text.

A PLUG row runs two templates: the answer layout and the chat template. Rendering
costs tens of microseconds a row, a tenth of the tokenizer's time. When a template can
only paste a text input in unchanged (never filter it, test its value, loop over it or
store it), its output for any inputs is one render with placeholders, the inputs
pasted in: a skeleton, built once per shape (languages, roles) and filled per row.

The checks below read the template's syntax tree and say yes only for templates they
can show to be such pastes; anything else keeps a full render per row. The tests
compare filled skeletons with full renders on axolotl's bundled chat templates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from jinja2 import TemplateError, nodes

# Characters from Unicode's private use area mark where each input sits in a render.
# Rows may not contain them (layout rejects such rows).
_OPEN, _SEP, _CLOSE = "\ue000", "\ue001", "\ue002"
MARKER_CHARS = (_OPEN, _SEP, _CLOSE)

# Statements whose body is output as it is. Macros, call blocks, filter blocks and
# `{% set %}...{% endset %}` capture their body, so a value inside one can be changed.
_PLAIN_STATEMENTS = (nodes.Template, nodes.Output, nodes.If, nodes.For, nodes.With, nodes.Scope)

# Tests that look only at a value's type: every message content is a str.
_TYPE_TESTS = {"string", "defined", "undefined", "none", "mapping", "sequence", "iterable", "number"}

Skeleton = tuple[tuple[str, object], ...]  # ((literal, slot key or None), ...)


def slot(key: object) -> str:
    """The placeholder a skeleton render gets for the input `key`."""
    return f"{_OPEN}{key}{_SEP}{_CLOSE}"


def split_skeleton(raw: str, key: Callable[[str], object] = str) -> Skeleton:
    """Cut a render made with `slot` placeholders into literals and slot keys."""
    chunks = raw.split(_OPEN)
    skeleton, literal = [], chunks[0]
    for chunk in chunks[1:]:
        name, _, after = chunk.partition(_SEP + _CLOSE)
        skeleton.append((literal, key(name)))
        literal = after
    skeleton.append((literal, None))
    return tuple(skeleton)


def fill(skeleton: Skeleton, values: Mapping | Sequence) -> tuple[str, dict[object, tuple[int, int]]]:
    """The skeleton with each slot replaced by `values[key]`; also each key's first span."""
    pieces: list[str] = []
    spans: dict[object, tuple[int, int]] = {}
    length = 0
    for literal, key in skeleton:
        pieces.append(literal)
        length += len(literal)
        if key is not None:
            text = values[key]
            spans.setdefault(key, (length, length + len(text)))
            pieces.append(text)
            length += len(text)
    return "".join(pieces), spans


def _parse(env, source: str) -> nodes.Template | None:
    try:
        return env.parse(source)
    except TemplateError:
        return None


def _parents(tree: nodes.Node) -> dict[int, nodes.Node]:
    parents: dict[int, nodes.Node] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in node.iter_child_nodes():
            parents[id(child)] = node
            stack.append(child)
    return parents


def _printed_as_is(node: nodes.Node, parents: dict[int, nodes.Node]) -> bool:
    """`node` (a text value) reaches the output unchanged: it sits in `{{ }}`, alone or
    joined with `+`/`~`, inside plain statements only."""
    parent = parents.get(id(node))
    while isinstance(parent, (nodes.Add, nodes.Concat)):
        node, parent = parent, parents.get(id(parent))
    if not isinstance(parent, nodes.Output):
        return False
    while parent is not None:
        if not isinstance(parent, _PLAIN_STATEMENTS):
            return False
        parent = parents.get(id(parent))
    return True


def prints_bare(env, source: str, names: Iterable[str]) -> bool:
    """True when each of `names` is used only by printing it as is (`{{ name }}`)."""
    tree = _parse(env, source)
    if tree is None:
        return False
    names = set(names)
    parents = _parents(tree)
    return all(_printed_as_is(n, parents) for n in tree.find_all(nodes.Name) if n.name in names)


def pastes_message_contents(env, source: str) -> bool:
    """True when the chat template uses each message's `content` only by printing it as
    is, and reaches messages only through `messages`, for-loops, indexing and keys.

    Everything else a template may do with a message (its role, the number of messages,
    loop.first) depends on the conversation's shape, which the skeleton is keyed on.
    """
    tree = _parse(env, source)
    if tree is None:
        return False
    parents = _parents(tree)
    for node in tree.find_all((nodes.For, nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.For) and node.recursive:
            return False
        # loop.previtem / loop.nextitem hand out messages outside the tracked names
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(getattr(node, "arg", None), "value", None)
        if key in ("previtem", "nextitem"):
            return False

    # names that may hold a message or a list of them, closed over `for` and `set`
    tracked = {"messages"}
    while True:
        grown = set(tracked)
        for node in tree.find_all((nodes.For, nodes.Assign)):
            value = node.iter if isinstance(node, nodes.For) else node.node
            if _is_messages(value, tracked):
                grown |= {n.name for n in _targets(node.target)}
        if grown == tracked:
            break
        tracked = grown

    for name in tree.find_all(nodes.Name):
        if name.name in tracked and name.ctx == "load" and not _message_use_ok(name, parents):
            return False
    return True


def _targets(target: nodes.Node) -> list[nodes.Node]:
    """What a `for` or `set` assigns to: the name, or each item of a tuple."""
    return list(target.items) if isinstance(target, nodes.Tuple) else [target]


def _is_messages(node: nodes.Node, tracked: set[str]) -> bool:
    """A tracked name, or one indexed by a number or a slice: a message or a list of them."""
    while isinstance(node, nodes.Getitem) and isinstance(node.arg, (nodes.Const, nodes.Slice)):
        if isinstance(node.arg, nodes.Const) and not isinstance(node.arg.value, int):
            return False
        node = node.node
    return isinstance(node, nodes.Name) and node.name in tracked


def _message_use_ok(node: nodes.Node, parents: dict[int, nodes.Node]) -> bool:
    """A use of a message (or list of them) that depends on the conversation's shape only,
    or prints a content as is."""
    parent = parents.get(id(node))
    if isinstance(parent, nodes.For):
        return node is parent.iter
    if isinstance(parent, nodes.Assign):  # its target names are tracked in turn
        return node is parent.node and all(isinstance(t, nodes.Name) for t in _targets(parent.target))
    if isinstance(parent, nodes.Test):
        return parent.name in _TYPE_TESTS
    if isinstance(parent, nodes.Filter):
        return node is parent.node and parent.name in ("length", "count") and not parent.args
    if isinstance(parent, (nodes.Getitem, nodes.Getattr)) and node is parent.node:
        if isinstance(parent, nodes.Getitem) and isinstance(parent.arg, nodes.Slice):
            return _message_use_ok(parent, parents)
        if isinstance(parent, nodes.Getitem) and not isinstance(parent.arg, nodes.Const):
            return False
        key = parent.attr if isinstance(parent, nodes.Getattr) else parent.arg.value
        if isinstance(key, int):
            return _message_use_ok(parent, parents)
        if key == "content":
            return _content_use_ok(parent, parents)
        # another key (role, name, tool_calls): the shape, unless it is a method
        return isinstance(key, str) and not any(hasattr(kind, key) for kind in (dict, list, str))
    return False


def _content_use_ok(node: nodes.Node, parents: dict[int, nodes.Node]) -> bool:
    parent = parents.get(id(node))
    if isinstance(parent, nodes.Test):
        return parent.name in _TYPE_TESTS
    return _printed_as_is(node, parents)
