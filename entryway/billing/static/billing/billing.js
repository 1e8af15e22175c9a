// Billing: live "Coupon Pay" and "Should Pay" on the Payment Information step. The server computes the real amounts.
(function () {
  "use strict";
  function cents(text) { var n = Math.round(parseFloat(text || "0") * 100); return isNaN(n) ? 0 : n; }
  function show(n) { return (n / 100).toFixed(2); }
  function update() {
    var total = document.getElementById("total-price");
    var couponPay = document.getElementById("coupon-pay");
    var shouldPay = document.getElementById("should-pay");
    if (!total || !couponPay || !shouldPay) return;
    var chosen = document.querySelector('input[name="coupon"]:checked');
    var t = cents(total.getAttribute("data-total"));
    var balance = chosen ? cents(chosen.getAttribute("data-balance")) : 0;
    var pay = Math.min(Math.max(balance, 0), t);
    couponPay.textContent = show(pay);
    shouldPay.textContent = show(t - pay);
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name === "coupon") update();
  });
  document.addEventListener("DOMContentLoaded", update);
})();
