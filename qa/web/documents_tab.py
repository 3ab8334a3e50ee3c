"""The app's Documents tab: the collection as a table, uploads indexed at once, removal with a
confirmation (and Undo when removed files go to a trash). Built by :func:`qa.web.app.build_app`."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ..errors import QAError
from ..ingest.documents import SUFFIXES
from ..pipeline import Pipeline
from . import render as r

#: File types offered for upload: those the loader reads.
UPLOAD_TYPES = sorted(SUFFIXES)
#: Brings the removal question into view once the page shows it (on a phone it opened below the screen); the
#: page draws it a moment after the event, so this looks again every 50 ms, for up to 2 s.
SHOW_CONFIRM = ("() => { let tries = 0; const look = () => { const box = document.getElementById('qa-confirm');"
                " if (box && box.offsetParent !== null) box.scrollIntoView({block: 'center'});"
                " else if (tries++ < 40) setTimeout(look, 50); }; look(); }")


def _documents_tab(pipeline: Pipeline, ready_or_error, collection_state, trash: bool, header, ask_docs):
    """The Documents tab: the collection as a table; upload documents (indexed at once, with one
    progress bar) and remove them after a confirmation that names them (with Undo when the
    pipeline keeps removed files in a trash)."""
    limit = f"{pipeline.settings.max_file_bytes / 2**20:.0f} MB"

    def changed(status: str, undo_visible: bool = False, clear: bool = False) -> tuple:
        """The tab after a change; ``clear`` empties the removal picker (after a removal or its undo, the
        documents just restored must not stay picked, one confirmation from being removed again)."""
        head, table, chosen, docs, _, _ = collection_state()
        if clear:
            chosen = gr.Dropdown(choices=chosen.choices, value=[])
        return (status, table, chosen, docs, head, gr.Button(visible=undo_visible))

    def add(files: list[str] | None, progress=gr.Progress()) -> tuple:
        try:
            ready_or_error()
            added, report = pipeline.add([Path(f) for f in files or []],
                                         progress=lambda f, m: progress(f, desc=m))
        except QAError as exc:
            return *changed(r.render_error(str(exc), "Cannot add these.")), None
        added.skipped = [(Path(name).name, why) for name, why in added.skipped]  # not the server's upload folder
        # the upload's own lines; the folder's skipped files are named under the page's header
        lines = added.lines() + (report.lines(skipped=False) if report is not None else [])
        if not added.changed:
            title = "Nothing added."
        elif added.skipped:
            title = f"Added {len(added.added) + len(added.replaced)}; {len(added.skipped)} not added."
        else:
            title = "Added."
        return *changed(r.render_changes(lines, title)), None

    def ask_confirm(ids: list[str] | None):
        if not ids:
            return r.render_error("pick the documents to remove first", "Nothing chosen."), gr.Group(visible=False), ""
        return "", gr.Group(visible=True), r.render_confirm(list(ids), trash)

    def remove(ids: list[str] | None, progress=gr.Progress()) -> tuple:
        ids = list(ids or [])
        try:
            if not ids:
                raise QAError("no document chosen: pick the documents to remove first")
            ready_or_error()
            report = pipeline.remove(ids, progress=lambda f, m: progress(f, desc=m))
        except QAError as exc:
            return *changed(r.render_error(str(exc), "Cannot remove.")), gr.Group(visible=False), []
        lines = [f"removed {', '.join(ids)}"] + (report.lines(skipped=False) if report is not None else [])
        if trash:
            lines.append("the files are in the trash: Undo brings them back")
        return *changed(r.render_changes(lines, "Removed."), undo_visible=trash, clear=True), gr.Group(visible=False), ids

    def undo(ids: list[str] | None, progress=gr.Progress()) -> tuple:
        restore = getattr(pipeline, "restore", None)
        try:
            if not ids or restore is None:
                raise QAError("nothing to undo")
            restore(list(ids))
        except QAError as exc:
            return *changed(r.render_error(str(exc), "Cannot undo.")), []
        return *changed(r.render_changes([f"restored {', '.join(ids)}"], "Back in the collection."), clear=True), []

    gr.Markdown(
        f"Add PDF, HTML, Markdown or text files, up to {limit} each: they are copied into the document "
        "folder and indexed, and questions are answered from them at once. A scanned PDF needs OCR first."
    )
    upload = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, type="filepath", height=140,
                     label=f"Add documents ({' '.join(UPLOAD_TYPES)}; up to {limit} each)",
                     elem_id="qa-doc-upload")
    status = gr.HTML(elem_id="qa-doc-status")
    undo_button = gr.Button("Undo the removal", visible=False, elem_id="qa-undo", size="sm")
    table = gr.Dataframe(value={"headers": r.DOCUMENT_HEADERS, "data": []},
                         label="The collection", interactive=False, wrap=True, elem_id="qa-doc-table",
                         column_widths=[310, 270, 80, 70, 90, 144])  # px: a phone shows the titles, then scrolls
    with gr.Row(equal_height=False, elem_classes="qa-ask-row"):
        chosen = gr.Dropdown(choices=[], value=[], multiselect=True, scale=5,
                             label="Documents to remove", elem_id="qa-doc-remove")
        remove_button = gr.Button("Remove ...", variant="stop", scale=1, min_width=120)
    with gr.Group(visible=False, elem_id="qa-confirm") as confirm:
        confirm_text = gr.HTML()
        with gr.Row():
            yes = gr.Button("Yes, remove", variant="stop", elem_id="qa-confirm-yes")
            no = gr.Button("Cancel", elem_id="qa-confirm-no")
    removed = gr.State([])
    outputs = [status, table, chosen, ask_docs, header, undo_button]
    upload.upload(lambda: "", None, status, api_visibility="private", show_progress="hidden").then(
        add, upload, outputs + [upload], api_visibility="private", show_progress_on=[status])
    remove_button.click(ask_confirm, chosen, [status, confirm, confirm_text], api_visibility="private",
                        show_progress="hidden").then(None, None, None, js=SHOW_CONFIRM, api_visibility="private")
    no.click(lambda: gr.Group(visible=False), None, confirm, api_visibility="private", show_progress="hidden")
    yes.click(remove, chosen, outputs + [confirm, removed], api_visibility="private", show_progress_on=[status])
    undo_button.click(undo, removed, outputs + [removed], api_visibility="private", show_progress_on=[status])
    return table, chosen, status
