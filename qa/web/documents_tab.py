"""The app's Documents tab: the collection as a table, uploads indexed at once, removal with a
confirmation (and, when removed files go to a trash, Undo and the removed documents to restore). Built by
:func:`qa.web.app.build_app`."""

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


def trash_state(pipeline: Pipeline) -> tuple:
    """The removed documents that can be restored, as the picker's choices (newest first, each with when it was
    removed), and the section's visibility: shown while the trash holds any."""
    entries = {e.id: e for e in pipeline.trashed()} if callable(getattr(pipeline, "trashed", None)) else {}
    choices = [(f"{e.id} (removed {r.short_time(e.removed)})", e.id) for e in reversed(entries.values())]
    return gr.Dropdown(choices=choices, value=[]), gr.Row(visible=bool(choices))


def _documents_tab(pipeline: Pipeline, ready_or_error, collection_state, trash: bool, header, ask_docs):
    """The Documents tab: the collection as a table; upload documents (indexed at once, with one
    progress bar) and remove them after a confirmation that names them (with Undo, and the removed
    documents listed to restore at any time, when the pipeline keeps removed files in a trash). Returns
    the table, the removal picker, the status and the removed documents' picker and section (for
    :func:`trash_state`)."""
    limit = f"{pipeline.settings.max_file_bytes / 2**20:.0f} MB"

    def changed(status: str, undo: list[str] | None = None, clear: bool = False) -> tuple:
        """The tab after a change; ``undo``: the documents just removed, which the Undo button names (hidden
        without). ``clear`` empties the removal picker (after a removal or a restore, the documents just
        restored must not stay picked, one confirmation from being removed again)."""
        head, table, chosen, docs, _, _ = collection_state()
        if clear:
            chosen = gr.Dropdown(choices=chosen.choices, value=[])
        button = gr.Button(f"Undo: restore {', '.join(undo)}" if undo else "Undo", visible=bool(undo))
        return (status, table, chosen, docs, head, button, *trash_state(pipeline))

    def add(files: list[str] | None, progress=gr.Progress()) -> tuple:
        try:
            ready_or_error(adding=True)
            added, report = pipeline.add([Path(f) for f in files or []],
                                         progress=lambda f, m: progress(f, desc=m))
        except QAError as exc:
            return *changed(r.render_error(str(exc), "Cannot add these.")), None
        added.skipped = [(Path(name).name, why) for name, why in added.skipped]  # not the server's upload folder
        # the upload's own lines; the folder's skipped files are named under the page's header
        lines = (added.lines(to_replace="if it replaces the old one, remove the old one below")
                 + (report.lines(skipped=False, detail=False, said={*added.added, *added.replaced})
                    if report is not None else []))
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
        try:  # the picker lists indexed documents, so the index is loaded
            titles = {d.id: d.title for d in pipeline.documents()}
        except QAError:
            titles = {}
        return "", gr.Group(visible=True), r.render_confirm(list(ids), trash, titles)

    def remove(ids: list[str] | None, progress=gr.Progress()) -> tuple:
        ids = list(ids or [])
        try:
            if not ids:
                raise QAError("no document chosen: pick the documents to remove first")
            ready_or_error()
            report = pipeline.remove(ids, progress=lambda f, m: progress(f, desc=m))
        except QAError as exc:
            return *changed(r.render_error(str(exc), "Cannot remove.")), gr.Group(visible=False), []
        lines = (report.lines(skipped=False, trashed=False, detail=False) if report is not None
                 else [f"removed {', '.join(ids)}"])
        if trash:
            lines.append("the files are in the trash beside the index: Undo, or Restore under Removed documents "
                         "at any time, puts them back")
        return (*changed(r.render_changes(lines, "Removed."), undo=ids if trash else None, clear=True),
                gr.Group(visible=False), ids)

    def restore(ids: list[str] | None, progress=gr.Progress()) -> tuple:
        ids = list(ids or [])
        try:
            if not ids or not trash:
                raise QAError("no removed document chosen: pick the documents to restore first")
            ready_or_error()
            report = pipeline.restore(ids, progress=lambda f, m: progress(f, desc=m))
        except QAError as exc:
            return *changed(r.render_error(str(exc), "Cannot restore.")), []
        lines = [f"restored {', '.join(ids)}"] + (report.lines(skipped=False, detail=False)
                                                  if report is not None else [])
        return *changed(r.render_changes(lines, "Back in the collection."), clear=True), []

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
                         column_widths=[310, 250, 100, 70, 90, 144])  # px: a phone shows the titles, then scrolls
    with gr.Row(equal_height=False, elem_classes="qa-ask-row"):
        chosen = gr.Dropdown(choices=[], value=[], multiselect=True, scale=5,
                             label="Documents to remove", elem_id="qa-doc-remove")
        remove_button = gr.Button("Remove ...", variant="stop", scale=1, min_width=120)
    with gr.Group(visible=False, elem_id="qa-confirm") as confirm:
        confirm_text = gr.HTML()
        with gr.Row():
            yes = gr.Button("Yes, remove", variant="stop", elem_id="qa-confirm-yes")
            no = gr.Button("Cancel", elem_id="qa-confirm-no")
    with gr.Row(equal_height=False, elem_classes="qa-ask-row", visible=False, elem_id="qa-trash") as trash_group:
        trashed = gr.Dropdown(choices=[], value=[], multiselect=True, scale=5, elem_id="qa-doc-restore",
                              label="Removed documents (in the trash beside the index): restore")
        restore_button = gr.Button("Restore", scale=1, min_width=120, elem_id="qa-restore")
    removed = gr.State([])
    outputs = [status, table, chosen, ask_docs, header, undo_button, trashed, trash_group]
    upload.upload(lambda: "", None, status, api_visibility="private", show_progress="hidden").then(
        add, upload, outputs + [upload], api_visibility="private", show_progress_on=[status])
    remove_button.click(ask_confirm, chosen, [status, confirm, confirm_text], api_visibility="private",
                        show_progress="hidden").then(None, None, None, js=SHOW_CONFIRM, api_visibility="private")
    no.click(lambda: gr.Group(visible=False), None, confirm, api_visibility="private", show_progress="hidden")
    yes.click(remove, chosen, outputs + [confirm, removed], api_visibility="private", show_progress_on=[status])
    undo_button.click(restore, removed, outputs + [removed], api_visibility="private", show_progress_on=[status])
    restore_button.click(restore, trashed, outputs + [removed], api_visibility="private", show_progress_on=[status])
    return table, chosen, status, trashed, trash_group
