"""One folder per method, as mmagic's ``models/editors``: each holds its generator,
discriminator, encoders and GAN model, registered in mmagic's ``MODELS`` by decorator. Every
folder is imported here, so a new method's folder registers itself with no other edit."""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f'{__name__}.{_module.name}')
