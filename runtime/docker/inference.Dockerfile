# KAITO inference image: the kaito_runtime package with a model's weights baked in at /workspace/tfs/weights.
# Build from the repository root (not built or run in CI here: no Docker on our machines):
#   docker build -f runtime/docker/inference.Dockerfile --build-arg WEIGHTS_DIR=weights/phi-3-mini-128k-instruct \
#     -t <registry>/kaito-phi-3-mini-128k-instruct:0.0.1 .
# PyPI's torch wheel (pinned in constraints.txt) brings its CUDA libraries as nvidia-* wheels, so a plain Python
# base is enough; the GPU node supplies the driver through the NVIDIA container toolkit.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG WEIGHTS_DIR=weights
# The base image of download-at-runtime presets (kaito-base) is this file built with an empty
# WEIGHTS_DIR and HF_HUB_OFFLINE=0: the server then fetches the pinned revision into --download-dir.
ARG HF_HUB_OFFLINE=1
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=${HF_HUB_OFFLINE} \
    TOKENIZERS_PARALLELISM=false

WORKDIR /workspace/tfs
COPY constraints.txt /tmp/constraints.txt
COPY runtime /tmp/runtime
RUN pip install --constraint /tmp/constraints.txt /tmp/runtime && rm -rf /tmp/runtime /tmp/constraints.txt

COPY ${WEIGHTS_DIR} /workspace/tfs/weights

RUN useradd --uid 1000 --create-home kaito
USER 1000

# The Service maps port 80 to this container port; a torchrun rank listens on 5000 + LOCAL_RANK.
EXPOSE 5000
# A single process; the controller overrides the command with torchrun for multi-GPU and multi-node.
CMD ["kaito-inference", "--model", "/workspace/tfs/weights", "--port", "5000"]
