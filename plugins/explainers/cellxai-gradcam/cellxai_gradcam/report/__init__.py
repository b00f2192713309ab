"""This plugin's results in report.html (registered through ``cellxai_report_sections``).

The plugin owns ``explanations/gradcam``, ``explanations/gmean`` and
``explanations/faithfulness``, so it reads them back itself: Grad-CAM maps for the
report's sample montages (``maps``), and three sections (what the maps explain, the
Gmean images, whether the maps can be trusted). Renderers get the opened run and the
report's section; figures are drawn here with matplotlib, nothing imports the report.
"""
