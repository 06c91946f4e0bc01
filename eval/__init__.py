"""Evaluation suites of deconstruct, each runnable as ``python -m eval <suite> ...`` and writing a report folder."""

from deconstruct._module_aliases import alias_modules

# Module paths of the previous release, importable for one more release.
alias_modules({
    "eval.report": "eval.report_folder",
    "eval.report.files": "eval.report_folder",
    "eval.report.html": "deconstruct.reporting.html_page",
    "eval.report.plots": "deconstruct.reporting.plots",
})
