"""SceneLab's trainer for Vertex AI custom training (prebuilt PyTorch container).

`python -m trainer.task` takes `scenelab train`'s flags and trains the same run: the same records
in the same order, the same seeded validation split, preprocessing spec and recipe, and writes
a torchvision state_dict with SceneLab's JSON files beside it.
"""
