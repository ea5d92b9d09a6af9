"""studies: GAN studies on Ray Tune with MLflow tracking.

The only layer that talks to Ray and MLflow. `python -m studies` lists the
studies; `python -m studies.<name> --help` shows a study's options.
"""
