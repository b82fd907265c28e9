"""TNAO: two-stage neural architecture optimization (He et al., IJCNN 2023).

The engine package. It never imports Textual: screens (``tnao_app.screens``) render the
events the pipeline emits, storage (``tnao_app.storage``) records them.
"""

__version__ = "0.1.0"
