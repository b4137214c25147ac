from typing import Annotated

from fastapi import Depends, Request

from app.payments.provider import PaymentProvider


async def get_payment_provider(request: Request) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


Provider = Annotated[PaymentProvider, Depends(get_payment_provider)]
