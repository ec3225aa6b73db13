"""Exporters: the versioned SavedModel for TF Serving, built-ins-only TFLite files (float32 and
float16), the manifest, and the checked-in signature contract (``export/signature.json``)."""
