"""Sphinx directive ``.. mapping-table::``: the supported SymPy classes, read from the mapping itself.

The table is generated at build time from ``sympy_theano_printer.mapping.MAPPING``
and from the ``_print_<Class>`` methods of ``TheanoPrinter`` and its mixins
(special functions such as ``hyper`` in special.py, matrices), so it cannot
drift from the code.  The last column is the docstring
of the project's own formula or method: the domain, and what happens outside it.
"""
from docutils import nodes
from docutils.parsers.rst import Directive


def _callable_name(fn):
    name = getattr(fn, "__name__", None)
    if name:
        module = getattr(fn, "__module__", "") or ""
        if module.startswith("sympy_theano_printer"):
            return f"{name} (formula in {module.rsplit('.', 1)[-1]}.py)"
        return name
    return str(fn)


def _summary(obj):
    """Our own callable's or method's docstring (formula, domain, values outside it), else ''."""
    module = getattr(obj, "__module__", "") or ""
    doc = getattr(obj, "__doc__", None) if module.startswith("sympy_theano_printer") else None
    return " ".join(doc.split()) if doc else ""


def _class_label(cls):
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("sympy.codegen"):
        return f"{cls.__name__} ({module})"
    return cls.__name__


def _is_sympy_class_name(name):
    import sympy

    return name[:1].isupper() or isinstance(getattr(sympy, name, None), type)


def _rows():
    import sympy_theano_printer.printer as printer_module
    from sympy_theano_printer.mapping import EXACT_ON_INTEGERS, MAPPING

    rows = []
    for cls, fn in MAPPING.items():
        integer = "yes" if cls in EXACT_ON_INTEGERS else "cast to float"
        rows.append((_class_label(cls), "mapping table", _callable_name(fn), integer, _summary(fn)))
    printer = printer_module.TheanoPrinter
    methods = sorted(
        name[len("_print_"):] for name in dir(printer)
        if name.startswith("_print_") and _is_sympy_class_name(name[len("_print_"):])
    )
    for name in methods:
        if name in {"Basic"}:
            continue
        method = getattr(printer, f"_print_{name}")
        owner = method.__qualname__.split(".")[0]
        rows.append((name, "printer method", f"{owner}._print_{name}", "-", _summary(method)))
    return sorted(rows, key=lambda r: r[0].lower())


class MappingTable(Directive):
    has_content = False

    def run(self):
        headers = ("SymPy class", "translated by", "PyTensor callable / method", "integer arguments",
                   "domain and notes")
        table = nodes.table()
        group = nodes.tgroup(cols=len(headers))
        table += group
        for _ in headers:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        body = nodes.tbody()
        group += body

        def row(cells):
            r = nodes.row()
            for cell in cells:
                entry = nodes.entry()
                entry += nodes.paragraph(text=cell)
                r += entry
            return r

        head += row(headers)
        for cells in _rows():
            body += row(cells)
        return [table]


def setup(app):
    app.add_directive("mapping-table", MappingTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
