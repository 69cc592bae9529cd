"""Contains all the data models used in inputs/outputs"""

from .refusal import Refusal
from .refusal_detail_type_1_item import RefusalDetailType1Item
from .submit_contributed_result import SubmitContributedResult

__all__ = (
    "Refusal",
    "RefusalDetailType1Item",
    "SubmitContributedResult",
)
