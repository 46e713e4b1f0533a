"""clade-mm: class-adaptive normalization (CLADE, CLADE-ICPE) and SPADE for OpenMMLab."""
import re
from pathlib import Path

from setuptools import find_packages, setup


def extensions():
    """CLADE's fused CPU kernels; without torch at build time the layers run eagerly."""
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        return [], {}
    ext = CppExtension(
        'clade_mm._ext', ['clade_mm/ops/csrc/class_affine.cpp'],
        extra_compile_args=['-O3', '-fopenmp'], extra_link_args=['-fopenmp'])
    return [ext], {'build_ext': BuildExtension}


here = Path(__file__).parent
version = re.search(r"__version__ = '([^']+)'",
                    (here / 'clade_mm' / 'version.py').read_text()).group(1)

ext_modules, cmdclass = extensions()

setup(
    name='clade-mm',
    version=version,
    description='Class-adaptive normalization for semantic image synthesis, '
    'as an OpenMMLab plugin',
    long_description=(here / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['clade_mm', 'clade_mm.*']),
    # The painter's page is served from the installed package.
    package_data={'clade_mm.apps.paint': ['static/*.html', 'static/*.js', 'static/*.css']},
    # Loose ranges for users installing into their own stack; the tested pins live in
    # requirements/constraints.txt and tools/setup_env.sh.
    install_requires=[
        'torch>=2.0',
        'mmengine>=0.10,<0.11',
        'mmcv>=2.0.0rc4,<2.2.0',
        'mmagic>=1.2,<1.3',
        'mmsegmentation>=1.2,<1.3',
        'numpy<2',
    ],
    extras_require={'paint': ['flask>=3.1']},
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
