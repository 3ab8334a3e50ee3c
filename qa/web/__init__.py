"""The browser app: HTML rendering (``render``, ``highlight``, no UI framework), the page\nsource view (``source``), start-up in the background (``warmup``) and the Gradio wiring (``app``)."""
