# amd: AOCL-BLIS (AMD's BLIS, "amdzen" fat binary: Zen to Zen 3 kernels, chosen at run time) with
# HPL 2.3 from netlib built against it, GCC with -march=znver2 (runs on every EPYC EC2 offers from
# Rome on), OpenMPI. AOCC is not used: AMD serves it behind a EULA click-through; GCC builds HPL
# and STREAM here, and the BLAS does the floating-point work either way.
# Sources are pinned by SHA-256 (values from Spack's hpl and amdblis recipes).
ARG BASE_IMAGE=debian:bookworm-slim
ARG BASE_DIGEST

FROM ${BASE_IMAGE}@${BASE_DIGEST} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Versions come from the pinned base image's Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc g++ make perl python3 curl ca-certificates \
       libopenmpi-dev openmpi-bin \
    && rm -rf /var/lib/apt/lists/*
ARG BLIS_VERSION=3.1
ARG BLIS_SHA256=2891948925b9db99eec02a1917d9887a7bee9ad2afc5421c9ba58602a620f2bf
ARG HPL_VERSION=2.3
ARG HPL_SHA256=32c5c17d22330e6f2337b681aded51637fb6008d3f0eb7c277b163fadd612830
ARG ARCH_FLAGS="-march=znver2"
WORKDIR /src
RUN curl -fsSL -o blis.tar.gz "https://github.com/amd/blis/archive/${BLIS_VERSION}.tar.gz" \
    && echo "${BLIS_SHA256}  blis.tar.gz" | sha256sum -c - \
    && mkdir blis && tar -xzf blis.tar.gz --strip-components=1 -C blis \
    && curl -fsSL -o hpl.tar.gz "https://www.netlib.org/benchmark/hpl/hpl-${HPL_VERSION}.tar.gz" \
    && echo "${HPL_SHA256}  hpl.tar.gz" | sha256sum -c - \
    && mkdir hpl && tar -xzf hpl.tar.gz --strip-components=1 -C hpl
WORKDIR /src/blis
RUN ./configure --prefix=/opt/aocl --enable-cblas --enable-threading=openmp --disable-aocl-dynamic amdzen \
    && make -j"$(nproc)" && make install
WORKDIR /src/hpl
# HPL 2.3's configure takes its BLAS from the libs10 line (as Spack's recipe does it).
RUN sed -i "s|^libs10=.*|libs10='-L/opt/aocl/lib -lblis-mt -fopenmp'|" configure \
    && ./configure CC=mpicc CFLAGS="-O3 ${ARCH_FLAGS}" \
    && make -j"$(nproc)" \
    && cp testing/xhpl /opt/xhpl

FROM ${BASE_IMAGE}@${BASE_DIGEST}
ARG RUNNER_VERSION=unknown
ARG BLIS_VERSION=3.1
ARG HPL_VERSION=2.3
LABEL org.opencontainers.image.title="instance-benchmarks runner (amd)" \
      io.instance-benchmarks.variant="amd" \
      io.instance-benchmarks.compiler="gcc (Debian bookworm), -march=znver2" \
      io.instance-benchmarks.blas="AOCL-BLIS ${BLIS_VERSION} (amdzen)" \
      io.instance-benchmarks.hpl="HPL ${HPL_VERSION} (netlib)" \
      io.instance-benchmarks.runner-version="${RUNNER_VERSION}"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY runner/debian-packages.txt /tmp/debian-packages.txt
# gcc stays: STREAM is compiled on the instance it measures. Versions come from the pinned base.
# hadolint ignore=DL3008
RUN apt-get update \
    && grep -v -E '^\s*(#|$)' /tmp/debian-packages.txt | grep -v -x libopenblas-dev \
       | xargs apt-get install -y --no-install-recommends python3 libgomp1 \
    && rm -rf /var/lib/apt/lists/* /tmp/debian-packages.txt \
    && useradd --create-home --uid 10001 bench
COPY --from=build /opt/aocl/lib /opt/aocl/lib
COPY --from=build /opt/xhpl /opt/benchrun-bin/xhpl
COPY runner/ /opt/benchrun/
ENV LD_LIBRARY_PATH=/opt/aocl/lib \
    BENCHRUN_XHPL=/opt/benchrun-bin/xhpl \
    BENCHRUN_BUILD_DIR=/home/bench/.cache/benchrun \
    PATH=/opt/benchrun:$PATH
USER 10001
WORKDIR /home/bench
# numactl --membind needs CAP_SYS_NICE under Docker's default seccomp profile (--cap-add SYS_NICE).
ENTRYPOINT ["benchrun"]
CMD ["all", "--profile", "quick"]
