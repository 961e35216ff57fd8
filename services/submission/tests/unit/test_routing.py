from rcm_submission.domain.routing import FALLBACK, Route, RouteTable


def test_payer_route_wins_over_the_tenant_fallback_which_wins_over_the_default():
    table = RouteTable([Route("t1", "AETNA", "availity"), Route("t1", FALLBACK, "waystar"),
                        Route("t2", "AETNA", "direct-aetna")], default="sandbox")

    assert table.clearinghouse_for("t1", "AETNA") == "availity"
    assert table.clearinghouse_for("t1", "CIGNA") == "waystar"
    assert table.clearinghouse_for("t2", "AETNA") == "direct-aetna"
    assert table.clearinghouse_for("t2", "CIGNA") == "sandbox"  # no fallback of its own
    assert table.clearinghouse_for("t3", "AETNA") == "sandbox"  # other tenants' routes never apply
