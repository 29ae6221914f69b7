"""Image folders as datasets (``kind: image_folder``): ``listing`` finds the classes and files,
``decoding`` turns files into RGB pixels and statistics, ``dataset`` makes them a trial's dataset."""
