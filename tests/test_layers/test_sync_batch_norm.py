"""AllReduceBatchNorm2d over 2 CPU processes equals BatchNorm2d over their joint batch."""
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from clade_mm.layers.clade import CLADE
from clade_mm.layers import AllReduceBatchNorm2d, sync_conditional_norms
from clade_mm.layers.spade import SPADE
from tests.distributed import free_port


SLICES = (slice(0, 3), slice(3, 4))  # two ranks with different batch sizes


def joint_batch(norm_type):
    """A norm with non-trivial affine parameters, a joint batch and its upstream gradient."""
    g = torch.Generator().manual_seed(0)
    norm = norm_type(5, affine=True, momentum=0.3)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(5, generator=g) + 0.5)
        norm.bias.copy_(torch.randn(5, generator=g))
    x = torch.randn(4, 5, 6, 7, generator=g) * 3 + 1
    return norm, x, torch.randn(4, 5, 6, 7, generator=g)


def run_rank(rank, port, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        norm, x, grad = joint_batch(AllReduceBatchNorm2d)
        x = x[SLICES[rank]].clone().requires_grad_()
        out = norm(x)
        out.backward(grad[SLICES[rank]])
        torch.save(dict(out=out.detach(), grad_x=x.grad, grad_w=norm.weight.grad,
                        running_mean=norm.running_mean, running_var=norm.running_var),
                   os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


def test_two_processes_normalise_like_one_batch(tmp_path):
    mp.spawn(run_rank, args=(free_port(), str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    reference, x, grad = joint_batch(nn.BatchNorm2d)
    x.requires_grad_()
    out = reference(x)
    out.backward(grad)
    for rank, part in enumerate(SLICES):
        torch.testing.assert_close(ranks[rank]['out'], out.detach()[part])
        torch.testing.assert_close(ranks[rank]['grad_x'], x.grad[part])
        torch.testing.assert_close(ranks[rank]['running_mean'], reference.running_mean)
        torch.testing.assert_close(ranks[rank]['running_var'], reference.running_var)
    # Parameter gradients stay local (DDP reduces them); together they are the joint one.
    torch.testing.assert_close(ranks[0]['grad_w'] + ranks[1]['grad_w'], reference.weight.grad)


def test_one_process_is_plain_batch_norm():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 5)
    norm, reference = AllReduceBatchNorm2d(4), nn.BatchNorm2d(4)
    torch.testing.assert_close(norm(x), reference(x))
    torch.testing.assert_close(norm.running_var, reference.running_var)


def test_only_conditional_norms_are_synchronised():
    model = nn.Sequential(CLADE(8, num_classes=3), SPADE(8, num_classes=3), nn.BatchNorm2d(8),
                          CLADE(8, num_classes=3, param_free_norm='IN'))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert sync_conditional_norms(model, 'cpu') == 2
    assert isinstance(model[0].param_free_norm, AllReduceBatchNorm2d)
    assert isinstance(model[1].param_free_norm, AllReduceBatchNorm2d)
    assert type(model[2]) is nn.BatchNorm2d
    assert isinstance(model[3].param_free_norm, nn.InstanceNorm2d)
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert sync_conditional_norms(model, 'cpu') == 0  # idempotent
