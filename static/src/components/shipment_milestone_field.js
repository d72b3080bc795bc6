import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * A milestone with its icon, as in a tracking timeline. The icon comes from the
 * record's `milestone_icon` field (computed server-side from the taxonomy) so that the
 * milestone vocabulary lives in one place.
 */
export class ShipmentMilestoneField extends Component {
    static template = "shipment_visibility.ShipmentMilestoneField";
    static props = { ...standardFieldProps };

    get code() {
        return this.props.record.data[this.props.name];
    }

    get label() {
        const selection = this.props.record.fields[this.props.name].selection || [];
        const entry = selection.find(([value]) => value === this.code);
        return entry ? entry[1] : "";
    }

    get icon() {
        return this.props.record.data.milestone_icon || "fa-circle-o";
    }
}

registry.category("fields").add("shipment_milestone", {
    component: ShipmentMilestoneField,
    displayName: "Shipment milestone",
    supportedTypes: ["selection"],
    fieldDependencies: [{ name: "milestone_icon", type: "char" }],
});
