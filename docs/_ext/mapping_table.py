"""Sphinx directive ``.. mapping-table::``: the supported SymPy classes, read from the mapping itself.

The table is generated at build time from ``sympy_theano_printer.mapping.MAPPING``
and from the ``_print_<Class>`` methods of ``TheanoPrinter``, so it cannot
drift from the code.
"""
from docutils import nodes
from docutils.parsers.rst import Directive


def _callable_name(fn):
    name = getattr(fn, "__name__", None)
    if name:
        module = getattr(fn, "__module__", "") or ""
        if module.startswith("sympy_theano_printer"):
            return f"{name} (formula in mapping.py)"
        return name
    return str(fn)


def _rows():
    import sympy_theano_printer.printer as printer_module
    from sympy_theano_printer.mapping import EXACT_ON_INTEGERS, MAPPING

    rows = []
    for cls, fn in MAPPING.items():
        integer = "yes" if cls in EXACT_ON_INTEGERS else "cast to float"
        rows.append((cls.__name__, "mapping table", _callable_name(fn), integer))
    methods = sorted(
        name[len("_print_"):] for name in dir(printer_module.TheanoPrinter)
        if name.startswith("_print_") and name[len("_print_"):][:1].isupper()
    )
    for name in methods:
        if name in {"Basic"}:
            continue
        rows.append((name, "printer method", f"TheanoPrinter._print_{name}", "-"))
    return sorted(rows, key=lambda r: r[0].lower())


class MappingTable(Directive):
    has_content = False

    def run(self):
        headers = ("SymPy class", "translated by", "PyTensor callable / method", "integer arguments")
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
