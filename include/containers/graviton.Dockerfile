# graviton: GCC and OpenBLAS 0.3.29 for Neoverse (Debian 13, DYNAMIC_ARCH: it picks its Neoverse N1/V1/V2
# kernels at run time and the document records which), OpenMPI. linux/arm64, Graviton2 and later.
# HPL is built from Debian's hpcc source with portable flags (the BLAS dispatches its kernels at
# run time, so HPL loses nothing); STREAM is compiled on the instance with -mcpu=native at first use.
# One stage, every COPY first: Docker 20.10's classic builder (Debian's docker.io, which builds this
# image under qemu on x86-64 machines) labels each committed step with the build host's platform, so a
# later COPY, or COPY --from another stage, fails with "does not match the specified platform".
# Build with the driver (python -m instance_benchmarks.images), which pins BASE_DIGEST.
ARG BASE_IMAGE=debian:trixie-slim
ARG BASE_DIGEST

FROM ${BASE_IMAGE}@${BASE_DIGEST}
COPY runner/ /opt/benchrun/
ARG RUNNER_VERSION=unknown
ARG HPL_ARCH_FLAGS="-mcpu=neoverse-n1"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# gcc stays: STREAM is compiled on the instance it measures. Versions come from the pinned base.
# hadolint ignore=DL3008
RUN apt-get update \
    && grep -v -E '^\s*(#|$)' /opt/benchrun/debian-packages.txt | grep -v -x hpcc \
       | xargs apt-get install -y --no-install-recommends python3 ca-certificates dpkg-dev \
    && BENCHRUN_BUILD_DIR=/opt/build BENCHRUN_ARCH_FLAGS="${HPL_ARCH_FLAGS}" python3 -c "\
import sys, shutil, os; sys.path.insert(0, '/opt/benchrun'); \
from benchmark_runner.build import build_xhpl_from_source as build; built = build(); \
os.makedirs('/opt/benchrun-bin'); shutil.copy(built['path'], '/opt/benchrun-bin/xhpl'); print(built)" \
    && apt-get purge -y --auto-remove dpkg-dev \
    && rm -rf /opt/build /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 bench
LABEL org.opencontainers.image.title="instance-benchmarks runner (graviton)" \
      io.instance-benchmarks.variant="graviton" \
      io.instance-benchmarks.compiler="gcc (Debian 13 trixie)" \
      io.instance-benchmarks.blas="OpenBLAS 0.3.29 (Debian 13, DYNAMIC_ARCH, Neoverse kernels)" \
      io.instance-benchmarks.hpl="HPL 2.0 from Debian hpcc_1.5.0 source, ${HPL_ARCH_FLAGS}" \
      io.instance-benchmarks.runner-version="${RUNNER_VERSION}"
ENV BENCHRUN_XHPL=/opt/benchrun-bin/xhpl \
    BENCHRUN_BUILD_DIR=/home/bench/.cache/benchrun \
    PATH=/opt/benchrun:$PATH
USER 10001
WORKDIR /home/bench
# numactl --membind needs CAP_SYS_NICE under Docker's default seccomp profile:
# run with --cap-add SYS_NICE, or the document records that NUMA placements were refused.
ENTRYPOINT ["benchrun"]
CMD ["all", "--profile", "quick"]
