# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The layers of DESIGN.md, read off the source with ast: no import cycle inside the project's packages,
nothing under torch_utils/ or dnnlib/ imports art, no script imports another script, and the art/ layers
point one way."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ('dnnlib', 'torch_utils', 'training', 'art')
SCRIPTS = ('generate', 'fid', 'train', 'train_art', 'compare')

def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix('')
    parts = rel.parts[:-1] if rel.name == '__init__' else rel.parts
    return '.'.join(parts)

def _imports(path):
    """Project modules imported anywhere in the file (top level or inside functions)."""
    tree = ast.parse(path.read_text(), str(path))
    me = _module_name(path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this package
                base = me.split('.')[:len(me.split('.')) - node.level + (1 if path.name == '__init__.py' else 0)]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ''
            names = [mod] + [f'{mod}.{a.name}' for a in node.names]
        else:
            continue
        for name in names:
            top = name.split('.')[0]
            if top in PACKAGES or top in SCRIPTS:
                out.add(name)
    return out

def _graph():
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob('*.py')] + [ROOT / f'{s}.py' for s in SCRIPTS]
    modules = {_module_name(p): p for p in files}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imp in _imports(path):
            while imp and imp not in modules:           # `from art import sampler` names art.sampler
                imp = imp.rpartition('.')[0]
            if imp and imp != name and not name.startswith(imp + '.') and imp not in PACKAGES:
                deps.add(imp)
        graph[name] = deps
    return graph

#----------------------------------------------------------------------------

def test_no_import_cycles():
    graph = _graph()
    state, stack = {}, []
    def visit(m):
        state[m] = 'open'
        stack.append(m)
        for d in graph.get(m, ()):
            if state.get(d) == 'open':
                raise AssertionError('import cycle: ' + ' -> '.join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 'done'
    for m in sorted(graph):
        if m not in state:
            visit(m)

def test_lower_layers_do_not_import_art_or_scripts():
    for name, deps in _graph().items():
        if name.split('.')[0] in ('dnnlib', 'torch_utils', 'training'):
            assert not any(d.split('.')[0] in ('art',) + SCRIPTS for d in deps), (name, deps)
        if name.split('.')[0] == 'art':
            assert not any(d in SCRIPTS for d in deps), (name, deps)

def test_no_script_imports_another():
    graph = _graph()
    for s in SCRIPTS:
        assert not (graph[s] & set(SCRIPTS)), (s, graph[s])

def test_art_layers_point_one_way():
    # report -> comparison -> methods -> {rl, closed_form, peers} -> local_error -> objective -> {sampler, metrics, builtin} -> {schedules, ...}
    rank = {'art.report': 5, 'art.comparison': 4, 'art.methods': 3, 'art.rl': 2, 'art.closed_form': 2, 'art.peers': 2,
            'art.local_error': 1.5, 'art.descent': 1.5, 'art.sampler': 1, 'art.metrics': 1, 'art.builtin': 1, 'art.pictures': 1.5,
            'art.schedules': 0, 'art.objective': 1.25, 'art.detectors': 0, 'art.analytic': 0}
    graph = _graph()
    for name, deps in graph.items():
        for d in deps:
            if name in rank and d in rank:
                assert rank[d] <= rank[name] and not (rank[d] == rank[name] and name != d), f'{name} imports {d}'

#----------------------------------------------------------------------------
