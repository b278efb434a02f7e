"""The Attention page's experiment: sequence tasks whose right attention pattern is known (`tasks`), the
models that expose every attention probability (`model`), one experiment as data (`config`), measuring
(`measures`), the plain trainer (`trainer`) and what it publishes (`visuals`), the job that runs it live
(`job`), and the page's labels (`labels`)."""
