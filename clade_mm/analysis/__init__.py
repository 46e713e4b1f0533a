from .complexity import Complexity, LayerCost, NormOverhead, measure_complexity

__all__ = ['Complexity', 'LayerCost', 'NormOverhead', 'measure_complexity']
